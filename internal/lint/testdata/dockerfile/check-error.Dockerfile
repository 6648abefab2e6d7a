# check=error=true
FROM localhost:5000/tools:2.1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
USER 1000
CMD echo hello
