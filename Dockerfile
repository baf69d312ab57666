# gradserve's API image: the NumPy engine behind uvicorn, as a non-root user on port 8000.
#   docker build -t gradserve .                                   (CPU)
#   docker build -t gradserve-cuda --build-arg EXTRAS='[cuda]' .   (CuPy worker; see docker-compose.yml)

# ---- builder: a self-contained virtual environment with gradserve and its runtime dependencies ----
FROM python:3.11-slim AS builder
ARG EXTRAS=""
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/gradserve && /opt/gradserve/bin/pip install --quiet --upgrade pip
WORKDIR /src
# Dependencies first, in a layer that only a pyproject.toml edit rebuilds (empty packages stand in for ours).
COPY pyproject.toml ./
RUN mkdir engine app && touch README.md \
 && /opt/gradserve/bin/pip install --quiet ".${EXTRAS}" \
 && /opt/gradserve/bin/pip uninstall --quiet --yes gradserve
# A C compiler for the batch writer's optional accelerator (engine/program/_textfill.c, built by the install below),
# in this stage only: the runtime image gets the built module, not gcc. The official image has Python's headers
# under /usr/local/include; a Debian-built Python (a stand-in of the image) needs python3-dev for them. Where the
# compiler cannot be installed (no package mirror), the install goes on without the module and the image runs the
# pure-Python path (the same answers, slower batches; docs/ENGINE.md): the RUN after the install says which.
RUN headers=$(/opt/gradserve/bin/python -c "import os, sysconfig; \
print('' if os.path.exists(os.path.join(sysconfig.get_paths()['include'], 'Python.h')) else 'python3-dev')") \
 && (apt-get update -qq && apt-get install -y -qq --no-install-recommends gcc libc6-dev $headers >/dev/null \
     && rm -rf /var/lib/apt/lists/*) || echo "no C compiler: the batch writer's accelerator will not be built"
# Then gradserve itself, from only what the wheel is built of: tests, bench and docs stay out.
COPY README.md ./
COPY engine ./engine
COPY app ./app
COPY gradserve ./gradserve
RUN /opt/gradserve/bin/pip install --quiet --no-deps . \
 && /opt/gradserve/bin/python -m compileall -q /opt/gradserve/lib \
 && cd / && /opt/gradserve/bin/python -c "from engine.program.batch_write import accel_state; \
print('batch text writer:', accel_state())"

# ---- runtime: the venv alone on a fresh slim base ----
FROM python:3.11-slim
RUN useradd --uid 10001 --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin gradserve
COPY --from=builder /opt/gradserve /opt/gradserve
# GRADSERVE_* are the app's settings (app/core/config.py); WORKERS is the uvicorn process count.
ENV PATH=/opt/gradserve/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    GRADSERVE_HOST=0.0.0.0 \
    GRADSERVE_PORT=8000 \
    GRADSERVE_WORKERS=1
# Numeric, so that a runtime enforcing runAsNonRoot can tell without reading /etc/passwd (10001 = gradserve).
USER 10001:10001
WORKDIR /tmp
EXPOSE 8000
# The slim image has no curl: the standard library asks /healthz.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('GRADSERVE_PORT', '8000'), timeout=2)"]
CMD ["gradserve", "serve"]
