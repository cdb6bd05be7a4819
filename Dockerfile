FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN pip install --no-cache-dir .
# The example runbooks; mount your own over /app/runbooks (see docker-compose.yml).
COPY runbooks ./runbooks
ENV PORT=3000
EXPOSE 3000
# `serve` applies the migrations before it starts listening.
CMD ["warroom", "serve"]
