"""``registra member invite``: prints the one-time link (absolute with REGISTRA_BASE_URL) and
emails it; a bad email or role, an unknown organization and a duplicate are clear errors with
exit code 2 and write nothing. And the email settings it sends with (docs/operations.md,
"Email"): the defaults, and bad values stopping the process at start-up."""

from __future__ import annotations

import hashlib

import pytest
from django.core import mail
from django.test import Client, override_settings

from registra.cli import main
from registra.core.models import AuditEvent
from registra.organizations.models import Member, Organization
from tests.test_health_settings import _start

pytestmark = pytest.mark.django_db
INVITE = ["member", "invite", "--org", "acme"]


@pytest.fixture
def acme(capsys: pytest.CaptureFixture[str]) -> Organization:
    assert main(["org", "create", "--slug", "acme", "--name", "Acme Aero"]) == 0
    capsys.readouterr()
    return Organization.objects.get(slug="acme")


def _link(out: str) -> str:
    (line,) = [line for line in out.splitlines() if "/invitations/" in line]
    return line.strip()


@override_settings(REGISTRA_BASE_URL="https://registra.example.com")
def test_invite_prints_and_emails_a_working_link(acme, capsys):
    args = [*INVITE, "--email", "Lena.Hart@Example.com", "--role", "editor", "--name", "Lena Hart"]

    assert main([*args, "--external-id", "ACME-7"]) == 0

    out = capsys.readouterr().out
    link = _link(out)
    assert link.startswith("https://registra.example.com/invitations/")
    member = Member.objects.get(organization=acme, email="lena.hart@example.com")
    assert (member.status, member.role, member.full_name, member.external_employee_id) == (
        "pending",
        "editor",
        "Lena Hart",
        "ACME-7",
    )
    assert f"invited lena.hart@example.com to acme as editor ({member.id})" in out
    token = link.rsplit("/", 1)[1]
    assert member.invitation_token_hash == hashlib.sha256(token.encode()).hexdigest()
    (message,) = mail.outbox
    assert message.to == ["lena.hart@example.com"] and link in message.body
    assert "emailed the link to lena.hart@example.com" in out
    event = AuditEvent.objects.get(organization_id=acme.id, action="member.invited")
    assert (event.actor_id, event.reason) == (
        "system:operator",
        "Operator command line: registra member invite",
    )
    assert Client().get(link.removeprefix("https://registra.example.com")).status_code == 200


def test_without_a_base_url_it_prints_the_path_and_says_so(acme, capsys):
    assert (
        main([*INVITE, "--email", "a@example.com", "--role", "viewer", "--reason", "x" * 12]) == 0
    )
    captured = capsys.readouterr()
    assert _link(captured.out).startswith("/invitations/")
    assert "set REGISTRA_BASE_URL" in captured.err
    assert AuditEvent.objects.get(action="member.invited").reason == "x" * 12


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--email", "not-an-email", "--role", "viewer"], "email: must be an email address"),
        (["--email", "a@example.com", "--role", "owner"], "role: must be one of: admin"),
        (["--email", "a@example.com", "--role", "viewer", "--reason", "short"], "reason: must"),
    ],
)
def test_bad_input_is_a_clear_error(acme, capsys, args, error):
    assert main([*INVITE, *args]) == 2
    assert error in capsys.readouterr().err
    assert not Member.objects.filter(organization=acme).exists()
    assert mail.outbox == []


def test_unknown_organization_and_duplicate(acme, capsys):
    assert (
        main(["member", "invite", "--org", "nope", "--email", "a@x.test", "--role", "viewer"]) == 2
    )
    assert "organization 'nope' not found" in capsys.readouterr().err
    assert main([*INVITE, "--email", "a@x.test", "--role", "viewer"]) == 0
    capsys.readouterr()
    assert main([*INVITE, "--email", "A@x.test", "--role", "admin"]) == 2
    assert "a@x.test is already a member or has a pending invitation" in capsys.readouterr().err
    assert Member.objects.get(organization=acme).role == "viewer"
    assert len(mail.outbox) == 1


def test_missing_flags_are_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["member", "invite", "--org", "acme", "--email", "a@x.test"])
    assert exc.value.code == 2
    assert "--role" in capsys.readouterr().err


_SHOW = "from django.conf import settings as s; print(s.EMAIL_BACKEND, s.EMAIL_FILE_PATH)"


def test_email_goes_to_files_in_the_data_dir_by_default_and_smtp_with_a_host(tmp_path):
    clear = {"REGISTRA_EMAIL_BACKEND": None, "REGISTRA_SMTP_HOST": None, "REGISTRA_EMAIL_DIR": None}
    default = _start(clear, tmp_path, then=_SHOW)
    assert default.returncode == 0, default.stderr
    assert default.stdout.split() == [
        "django.core.mail.backends.filebased.EmailBackend",
        str((tmp_path / "email").resolve()),
    ]
    smtp = _start({**clear, "REGISTRA_SMTP_HOST": "mail.example.com"}, tmp_path, then=_SHOW)
    assert smtp.stdout.split()[0] == "django.core.mail.backends.smtp.EmailBackend"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"REGISTRA_EMAIL_BACKEND": "pigeon"}, "REGISTRA_EMAIL_BACKEND must be one of"),
        (
            {"REGISTRA_EMAIL_BACKEND": "smtp"},
            "REGISTRA_EMAIL_BACKEND=smtp needs REGISTRA_SMTP_HOST",
        ),
        ({"REGISTRA_BASE_URL": "registra.example.com"}, "REGISTRA_BASE_URL must start with"),
        ({"REGISTRA_SMTP_PORT": "twenty-five"}, "REGISTRA_SMTP_PORT must be an integer"),
        (
            {"REGISTRA_SMTP_SSL": "true", "REGISTRA_SMTP_STARTTLS": "true"},
            "set REGISTRA_SMTP_STARTTLS or REGISTRA_SMTP_SSL, not both",
        ),
    ],
)
def test_bad_email_settings_fail_at_start(overrides, message, tmp_path):
    result = _start({"REGISTRA_SMTP_HOST": None, **overrides}, tmp_path)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and message in result.stderr
