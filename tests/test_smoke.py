from registra.assets import services
from registra.core.audit import verify_chain
from registra.core.models import AuditEvent
from tests.cast import SYSTEM, calibrate, make_asset


def test_cast_and_custody(cast):
    a = make_asset(cast.org, "tw-1")
    calibrate(cast.org, a)
    c = services.custody_assign(
        organization=cast.org,
        actor=SYSTEM,
        reason="Issue to tech one",
        asset_id=a.id,
        member_id=cast.technician.id,
    )
    c2 = services.custody_hand_off(
        organization=cast.org,
        actor=SYSTEM,
        reason="Shift change hand",
        asset_id=a.id,
        to_member_id=cast.editor.id,
    )
    c.refresh_from_db()
    assert c.status == "ended" and c.ended_at == c2.started_at
    assert verify_chain(cast.org.id).ok
    assert AuditEvent.objects.filter(organization_id=cast.org.id).count() > 5
