# Checkpoint Lab: the lesson server with a CPU-only torch.
#
#   docker build -t checkpoint-lab .
#   docker run -p 8000:8000 -v checkpoint-lab-data:/data checkpoint-lab
#
# The same image is a Celery worker node with `python -m app.worker` (see compose.yaml).
#
# Nothing is downloaded at run time. torch comes from the PyTorch CPU wheel index; to build without
# it, set TORCH_INDEX_URL to another PEP 503 index or to a flat folder of wheels (torch and its
# dependencies) that the build can reach: file:///wheels (e.g. `podman build -v ~/wheels:/wheels`)
# or http:// (e.g. `python3 -m http.server -d ~/wheels 8081` and `docker build --network=host`).
# The other dependencies come from the default index; torch is installed first, so pip finds it
# satisfied and never pulls a CUDA build.
FROM python:3.11-slim

ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG TORCH_VERSION=2.13.0

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/srv/app \
    HOST=0.0.0.0 \
    PORT=8000 \
    DATA_DIR=/data

WORKDIR /srv/app

# 1. torch (CPU build), in its own layer: it is most of the image and changes least. The URL is
#    given as an index and as find-links, so that a flat folder of wheels works too. Its C++ test
#    binaries and headers are not used at run time (there is no compiler here): ~200 MB less.
RUN pip install --no-cache-dir --disable-pip-version-check --root-user-action=ignore \
        --index-url "$TORCH_INDEX_URL" --find-links "$TORCH_INDEX_URL" "torch==${TORCH_VERSION}" \
 && torch_dir="$(python -c "import importlib.util, os; print(os.path.dirname(importlib.util.find_spec('torch').origin))")" \
 && rm -rf "$torch_dir/test" "$torch_dir/include" "$torch_dir"/bin/test_* "$torch_dir"/bin/*Test "$torch_dir"/bin/protoc*

# 2. The other dependencies, read from pyproject.toml. The project itself is not installed:
#    it runs from this folder, where app/ sits next to templates/, static/ and tutorials/.
COPY pyproject.toml ./
#    The celery extra too: one image is the web node, a worker node (compose.yaml) or a laptop.
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; print('\n'.join(p['dependencies'] + p['optional-dependencies']['celery']))" \
        > /tmp/requirements.txt \
 && pip install --no-cache-dir --disable-pip-version-check --root-user-action=ignore -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt \
 && python -c "import io, torch; assert torch.version.cuda is None and torch.__version__.startswith('${TORCH_VERSION}'), torch.__version__; \
b = io.BytesIO(); torch.save(torch.nn.Linear(2, 2).state_dict(), b); b.seek(0); torch.load(b, weights_only=True); print('torch', torch.__version__, 'CPU')"

# 2b. bubblewrap: the sandbox of the checked code exercises (see the README for the `docker run`
#     options it needs; without them the exercises fall back to assemble mode).
RUN apt-get update \
 && apt-get install -y --no-install-recommends bubblewrap \
 && rm -rf /var/lib/apt/lists/*

# 3. A non-root user that owns only the data volume (the code stays root-owned, read-only to it).
RUN groupadd --gid 10001 app \
 && useradd --uid 10001 --gid app --no-log-init --create-home --shell /usr/sbin/nologin app \
 && mkdir -p /data \
 && chown app:app /data

# 4. The code and the files it reads at run time.
COPY app ./app
COPY templates ./templates
COPY static ./static
COPY tutorials ./tutorials

USER 10001:10001
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=4)"]

CMD ["python", "-m", "app"]
