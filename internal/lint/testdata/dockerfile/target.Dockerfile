FROM localhost:5000/tools:2.1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef AS build
RUN true
FROM build AS debug
USER root
FROM scratch
COPY --from=build /bin/true /true
USER 1000
