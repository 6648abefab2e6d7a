FROM localhost:5000/tools:2.1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
RUN echo one
RUN echo two
RUN --mount=type=cache,target=/c echo three
RUN echo four
RUN echo five
RUN echo six
COPY a /a
COPY b /b
USER 1000
