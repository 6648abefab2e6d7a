FROM scratch
COPY . /migrations
