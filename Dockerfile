# One image for the three LeadRelay services; the command picks the service:
#   docker run leadrelay leadrelay serve scoring
# Migrations are applied by each service on start.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A fixed numeric uid, so Kubernetes' runAsNonRoot can verify it without a passwd lookup.
RUN groupadd --system --gid 10001 leadrelay \
 && useradd --system --uid 10001 --gid leadrelay --home-dir /app --shell /usr/sbin/nologin leadrelay

WORKDIR /app

# Metadata first, so the dependency layer is rebuilt only when pyproject.toml changes:
# install the dependencies of a stub package, then the real sources.
COPY pyproject.toml README.md ./
RUN mkdir -p services shared \
 && touch services/__init__.py shared/__init__.py \
 && pip install . \
 && pip uninstall -y leadrelay \
 && rm -rf services shared

# The sources stay in /app as well: alembic.ini and contracts/ are read relative to the
# working directory, and the migration scripts ship with the packages.
COPY . .
RUN pip install --no-deps . \
 && install -m 0755 deploy/docker/healthcheck.py /usr/local/bin/leadrelay-healthcheck \
 && mkdir -p /app/.leadrelay /var/lib/leadrelay \
 && chown leadrelay:leadrelay /app/.leadrelay /var/lib/leadrelay

USER 10001:10001

EXPOSE 8001 8002 8003

HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "/usr/local/bin/leadrelay-healthcheck"]

CMD ["leadrelay", "serve", "intake"]
