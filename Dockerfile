# One image for web (gunicorn), nginx in front of it, worker and beat.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 TF_CPP_MIN_LOG_LEVEL=2
# Pango, HarfBuzz and fonts for WeasyPrint (the PDF report).
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-client nginx \
      libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
RUN SECRET_KEY=build-only DATABASE_URL=sqlite:////tmp/build.db python manage.py collectstatic --no-input
RUN useradd --create-home thyroweb && mkdir -p /data/media && chown thyroweb /data/media
USER thyroweb
EXPOSE 8000
CMD ["gunicorn", "thyroweb.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3"]
