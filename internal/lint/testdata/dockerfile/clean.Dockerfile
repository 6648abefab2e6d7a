# A Dockerfile that follows every rule: no finding.
ARG BASE=localhost:5000/base:1.0@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
FROM localhost:5000/tools:2.1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef AS build
RUN mkdir -p /out && echo hi > /out/hi
FROM ${BASE}
COPY --from=build /out/hi /hi
USER 65532:65532
ENTRYPOINT ["/hi"]
