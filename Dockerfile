# GPU host image: CUDA runtime, the bot as a non-root user, models/outputs/database on a volume.
FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04

ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv python3-pip ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && python3 -m venv /opt/venv

# CUDA torch first (from PyTorch's CUDA index), so the project's "torch" requirement is already met.
RUN pip install torch --index-url https://download.pytorch.org/whl/cu128

WORKDIR /app
COPY pyproject.toml README.md ./
COPY generation ./generation
COPY bot ./bot
COPY localcord ./localcord
# EXTRAS="[cluster]" adds Ray and asyncpg (docker-compose.yml builds the image so)
ARG EXTRAS=""
RUN pip install ".${EXTRAS}"
COPY config.toml ./
COPY models ./models-shipped

RUN useradd --create-home --uid 1000 bot \
 && mkdir -p /data/models /data/outputs /data/db \
 && chown -R bot:bot /data /app
USER bot

# Point the shipped config at the volume: checkpoints in /data/models, results and the database beside.
RUN sed -i \
    -e 's#^models_dir = .*#models_dir = "/data/models"#' \
    -e 's#^outputs_dir = .*#outputs_dir = "/data/outputs"#' \
    -e 's#^database = .*#database = "/data/db/bot.sqlite3"#' \
    config.toml
VOLUME ["/data"]

# The demo model is copied into the volume on first start if the volume has no models yet.
CMD ["sh", "-c", "[ -n \"$(ls -A /data/models 2>/dev/null)\" ] || cp -r /app/models-shipped/. /data/models/; exec python -m bot --config /app/config.toml"]
