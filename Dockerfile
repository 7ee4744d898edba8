# LeadFlow image: web (gunicorn), Celery worker and beat, and the one-shot migrate.
FROM python:3.11-slim

# The code runs from the source tree in /app, because templates/ and static/
# sit beside the packages and are not part of the installed distribution.
# PYTHONPATH makes /app win over the copy pip installs into site-packages.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app \
    VAR_DIR=/app/var

WORKDIR /app

# Copied one by one so that nothing local (.venv, var/, .env) enters the image.
COPY pyproject.toml manage.py ./
COPY leadflow ./leadflow
COPY inquiries ./inquiries
COPY leads ./leads
COPY nurture ./nurture
COPY reporting ./reporting
COPY templates ./templates
COPY static ./static

RUN pip install . && rm -rf build ./*.egg-info

# Static files go to $VAR_DIR/static and are served by whitenoise. The key only
# lets the settings load during the build; it is not in the running containers.
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput

# The imports folder exists in the image so that the named volume mounted
# there (docker-compose.yml) starts out owned by the leadflow user.
RUN useradd --system --no-create-home --uid 10001 leadflow \
    && mkdir -p /app/var/imports \
    && chown -R leadflow /app/var
USER leadflow

EXPOSE 8000
# Worker processes: $WEB_CONCURRENCY (gunicorn reads it), see docker-compose.yml.
# --timeout 120: a CSV upload of up to IMPORT_MAX_MEGABYTES is read by the
# worker itself; behind a buffering proxy (nginx) the default 30 s would do.
CMD ["gunicorn", "leadflow.wsgi", "--bind", "0.0.0.0:8000", "--timeout", "120", "--access-logfile", "-"]
