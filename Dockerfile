# GPU host image: CUDA runtime, the bot as a non-root user, models/outputs/database on a volume.
FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04

ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

# gcc and the Python headers: Triton (torch.compile's GPU code generator) builds small C launchers.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv python3-pip python3-dev gcc libc6-dev \
    ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && python3 -m venv /opt/venv

# CUDA torch first, from PyTorch's CUDA index, so the project's "torch" requirement is already met
# (an unpinned PyPI torch would be another build). torch alone: the project never installs
# torchvision (it breaks `import transformers` where it does not match torch exactly).
RUN pip install torch --index-url https://download.pytorch.org/whl/cu128

WORKDIR /app
COPY pyproject.toml README.md ./
COPY generation ./generation
COPY bot ./bot
COPY localcord ./localcord
# EXTRAS: extras to install; docker-compose.yml adds the cluster extra (Ray and asyncpg).
ARG EXTRAS=""
RUN pip install ".${EXTRAS}"
COPY config.toml ./
COPY models ./models-shipped

RUN useradd --create-home --uid 1000 bot \
 && mkdir -p /data/models /data/outputs /data/db /data/cache \
 && chown -R bot:bot /data /app
USER bot

# Point the shipped config at the volume: checkpoints in /data/models, results, the database and the
# compiled kernels beside. A GPU serves faster compiled (models.compile; the first load of a model
# compiles for a few minutes, later starts reuse /data/cache) and with up to 8 images a UNet pass.
RUN sed -i \
    -e 's#^models_dir = .*#models_dir = "/data/models"#' \
    -e 's#^outputs_dir = .*#outputs_dir = "/data/outputs"#' \
    -e 's#^database = .*#database = "/data/db/bot.sqlite3"#' \
    -e 's#^cache_dir = .*#cache_dir = "/data/cache"#' \
    -e 's#^compile = .*#compile = "default"#' \
    -e 's#^batch_size = .*#batch_size = 8#' \
    config.toml
VOLUME ["/data"]

# The demo model is copied into the volume on first start if the volume has no models yet.
CMD ["sh", "-c", "[ -n \"$(ls -A /data/models 2>/dev/null)\" ] || cp -r /app/models-shipped/. /data/models/; exec python -m bot --config /app/config.toml"]
