# ResNet Explorer in a container: the app as `make run` serves it, on port 8501.
#   docker build -t resnet-explorer .                         # weights stay outside (mount or env var at run time)
#   docker build --build-arg BAKE_WEIGHTS=1 -t resnet-explorer:offline .   # ImageNet weights baked in (needs internet
#                                                                           # at build time, never at run time)
#   docker run --rm -p 8501:8501 resnet-explorer
FROM python:3.11-slim-bookworm

# 1: fetch keras.applications' ImageNet files into the image, md5-checked, and classify a sample photo with them once,
# so a classroom runs offline (about 1 GB of memory on the build machine).
ARG BAKE_WEIGHTS=0
# The networks whose weights are baked (any of `python -m resnet weights --help`); the first one is tried once.
ARG WEIGHTS_ARCH="resnet50"
# 1: Ray Serve too (requirements-serve.txt), for the network tier of a lecture hall (deploy/compose.yaml, kuberay.yaml).
ARG SERVE=0
# 1: TensorFlow's CUDA build (`docker run --gpus all …` then computes on the GPU), as `make run GPU=1` installs it.
ARG GPU=0

ENV PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    STREAMLIT_SERVER_HEADLESS=true \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false \
    MALLOC_ARENA_MAX=2

# Graphviz's `dot` draws the architecture diagrams. Not version-pinned: Debian replaces a package's version with
# each security update, so a pin would break the build (see .hadolint.yaml).
RUN apt-get update \
    && apt-get install -y --no-install-recommends graphviz \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 --user-group app \
    && mkdir /app \
    && chown app:app /app
USER 10001:10001
WORKDIR /app

# The same pinned requirements and the same virtual environment as `make setup`, in their own layer.
COPY --chown=app:app requirements*.txt ./
RUN python -m venv .venv \
    && .venv/bin/python -m pip install --no-cache-dir -r requirements.txt \
    && if [ "$SERVE" = "1" ]; then .venv/bin/python -m pip install --no-cache-dir -r requirements-serve.txt; fi \
    && if [ "$GPU" = "1" ]; then \
        .venv/bin/python -m pip install --no-cache-dir "$(sed -n 's/^tensorflow==/tensorflow[and-cuda]==/p' requirements.txt)"; \
    fi

COPY --chown=app:app . .

RUN if [ "$BAKE_WEIGHTS" = "1" ]; then \
        .venv/bin/python -m resnet weights --arch $WEIGHTS_ARCH \
        && .venv/bin/python -m resnet predict assets/samples/cat_chelsea.jpg --arch "${WEIGHTS_ARCH%% *}"; \
    fi

# Every network's per-layer table, counted once into the image's cache: a lecture hall's thin replicas (RESNET_SERVE_URL)
# show the Architecture page from these without TensorFlow, and an in-process server skips the counting. The network
# tier's image (SERVE=1) also saves the Answer role's OpenVINO IR now, not at its first start.
RUN .venv/bin/python -m resnet tables \
    && if [ "$SERVE" = "1" ]; then .venv/bin/python -m resnet serve --export; fi

EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["/app/.venv/bin/python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://localhost:8501/_stcore/health', timeout=4).read() != b'ok')"]

# `make run`'s command (Makefile), in /app, at its default port.
CMD ["/app/.venv/bin/python", "app/serve.py", "--server.port", "8501"]
