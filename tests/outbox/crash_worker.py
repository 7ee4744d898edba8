"""A real Celery worker whose email sender hangs right after sending, to be SIGKILLed there.

Run by tests/outbox/test_worker.py as ``python -m tests.outbox.crash_worker
<queue> <mail folder> <marks folder>``; once an email is written, it writes the
file ``sent-<message id>`` in the marks folder (the worker swallows stdout).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadflow.settings")


def main(queue: str, mail_folder: str, marks_folder: str) -> None:
    django.setup()
    from django.conf import settings

    from leadflow.celery import app
    from leadflow.outbox import email, senders

    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = mail_folder

    def send_then_hang(message) -> None:
        email.send_email(message)
        (Path(marks_folder) / f"sent-{message.pk}").touch()
        time.sleep(600)  # the moment between the send and its mark

    senders.register_sender("email", send_then_hang, check=email.check_payload)
    app.worker_main(
        [
            "worker",
            "--pool=solo",
            f"--queues={queue}",
            "--loglevel=WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
