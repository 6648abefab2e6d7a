# slipway:ignore base-latest,base-unpinned
FROM alpine
# slipway:ignore root-user
USER root
# slipway:ignore FromAsCasing
FROM localhost:5000/tools:2.1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef as x
USER 1000
