ARG BASE=alpine:latest
FROM golang AS build
RUN true
FROM build AS test
RUN true
FROM ${BASE}
COPY --from=build /go /go
USER 1000
