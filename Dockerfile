# retailsync's image. compose.yaml runs web (gunicorn), worker and beat from it; README.md,
# "Running it for real", lists the environment it reads.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# Dependencies first: a code change does not reinstall them.
COPY requirements.lock .
RUN pip install -r requirements.lock

COPY . .
# Hashed, compressed static files, made once here. The settings refuse to load without a key,
# PostgreSQL and Redis; collectstatic uses none of them, so these values live for this step only.
RUN DJANGO_SETTINGS_MODULE=retailsync.settings_production \
    SECRET_KEY=collectstatic-only-never-used-to-sign-anything \
    DATABASE_URL=postgres://unused@localhost/unused \
    CELERY_BROKER_URL=redis://localhost:6379/0 \
    python manage.py collectstatic --noinput -v0

# Not root. /var/lib/retailsync holds the generated key and beat's schedule (a volume).
RUN useradd --system --uid 10001 --home-dir /app retailsync \
    && mkdir -p /var/lib/retailsync \
    && chown retailsync /var/lib/retailsync
USER retailsync

ENV DJANGO_SETTINGS_MODULE=retailsync.settings_production \
    PORT=8000
EXPOSE 8000
CMD ["gunicorn", "--config", "gunicorn.conf.py"]
