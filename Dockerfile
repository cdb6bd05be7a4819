FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
COPY bot ./bot
# The exact versions the test suite passed with (constraints.txt), never whatever is newest.
RUN pip install --no-cache-dir -c constraints.txt . \
    && useradd --system --uid 10001 --home-dir /data --create-home warroom
# The example runbooks; mount your own over /app/runbooks (see docker-compose.yml).
COPY runbooks ./runbooks
# warroom runs as an unprivileged user; what it writes (a SQLite file, post-mortem drafts)
# goes to /data, a volume.
USER warroom
WORKDIR /data
VOLUME /data
ENV PORT=3000 \
    HOST=0.0.0.0 \
    RUNBOOKS_DIR=/app/runbooks \
    POSTMORTEM_DIR=/data/postmortems \
    DATABASE_URL=sqlite:////data/warroom.db
EXPOSE 3000
# `serve` applies the migrations before it starts listening.
CMD ["warroom", "serve"]
