FROM localhost:5000/tools:2.1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef AS Build
RUN true
FROM scratch
COPY --from=Build /bin/true /true
USER 1000
