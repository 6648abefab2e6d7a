# check=skip=FromAsCasing
FROM localhost:5000/tools:2.1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef as build
USER 1000
CMD echo hello
