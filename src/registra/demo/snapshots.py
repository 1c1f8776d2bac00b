"""Snapshot contents for the demo register: specifications, classification, calibration and
inspection posture, evidence. Pure functions of a seeded generator (see ``demo.plan``)."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

from registra.demo import catalogue as cat
from registra.demo.catalogue import EquipmentType


def iso(value: datetime | None) -> str | None:
    """API-style UTC timestamp (``...T14:08:33.000Z``) for snapshots; planner times are UTC."""
    if value is None:
        return None
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def classification(t: EquipmentType, at: datetime) -> dict[str, Any]:
    """The organization's level for this equipment, copied at classification time."""
    level = cat.CLASSIFICATION_LEVELS[t.classification]
    regulatory = {
        "calibrated-tool": "EASA Part-145.A.40 tools and equipment",
        "ground-support-equipment": "EN 1915 ground support equipment",
        "lifting-equipment": "EU Machinery Directive 2006/42/EC lifting accessories",
        "vehicle": "Airside driving permit regulations",
        "it-system": "Part-IS information security",
        "cloud-service": "Part-IS information security",
    }[t.asset_kind]
    return {
        "level": dict(level),
        "classifiedAt": iso(at),
        "criticality": level["severity"],
        "regulatoryClass": regulatory,
    }


def specifications(rng: random.Random, t: EquipmentType, index: int) -> tuple[dict, float]:
    """Key/value specifications and the full scale the calibration points are taken at."""
    k = t.spec_kind
    if k == "torque":
        hi = rng.choice((20, 60, 100, 200, 340)) if t.code == "TW" else rng.choice((1.2, 3, 6))
        unit = "N·m"
        drive = rng.choice(("1/4 in", "3/8 in", "1/2 in"))
        return {"range": f"{hi / 5:g}-{hi:g} {unit}", "drive": drive, "accuracy": "±4%"}, hi
    if k == "pressure":
        hi = rng.choice((10, 16, 25, 100, 250, 400))
        return {"range": f"0-{hi} bar", "accuracy": "0.25% FS", "connection": "1/4 in NPT"}, hi
    if k == "electrical":
        return {"ranges": "1000 V AC/DC, 10 A", "category": "CAT III 1000 V"}, 1000.0
    if k == "crimp":
        return {"wireRange": "AWG 26-12", "positioner": "M22520/1-01"}, 12.0
    if k == "dimensional":
        return {"range": "0-25 mm", "resolution": "0.001 mm"}, 25.0
    if k == "tension":
        return {"range": "10-300 lbf", "cableDiameters": "1/16-5/32 in"}, 300.0
    if k == "lifting":
        cap = rng.choice((5, 12, 25, 40))
        return {"capacity": f"{cap} t", "proofLoad": f"{cap * 1.25:g} t"}, float(cap)
    if k == "vehicle":
        fuel = rng.choice(("diesel", "electric", "hybrid"))
        return {"registration": f"AS-{index + 1:06d}", "fuel": fuel, "airsideZone": "A"}, 0.0
    other = {
        "power": {"output": "90 kVA, 115/200 V, 400 Hz", "engine": "diesel"},
        "hydraulic": {"flow": "12 gpm", "pressure": "3000 psi", "fluid": "MIL-PRF-83282"},
        "towing": {"aircraftTypes": "A320 family, B737", "shearPin": "per AMM 09-11"},
        "platform": {"workingHeight": "4.2 m", "safeWorkingLoad": "250 kg"},
        "device": {"os": "Windows 11 IoT Enterprise", "storage": "512 GB", "mdm": "Intune"},
        "server": {"cpu": "2x Xeon Gold 6338", "memory": "512 GB", "role": "CMMS local cache"},
        "cloud": {"dataResidency": "EU", "sso": "SAML via Entra ID", "tier": "production"},
    }
    return dict(other[k]), 0.0


_TITLES = {r.key: r.title for r in cat.RESPONSIBILITIES}
CAL_UNITS = {
    "torque": ("N·m", 4.0, "±4% of reading (ISO 6789-2:2017)"),
    "pressure": ("bar", 0.25, "±0.25% of full scale"),
    "electrical": ("V", 0.09, "±(0.05% + 2 digits)"),
    "crimp": ("AWG", 0.0, "go/no-go gauge per AS22520"),
    "dimensional": ("mm", 0.004, "±2 µm"),
    "tension": ("lbf", 2.0, "±2% of reading"),
}


def posture(
    rng: random.Random,
    t: EquipmentType,
    kind: str,
    state: str,
    valid: datetime | None,
    full_scale: float,
) -> dict[str, Any]:
    """Validity, interval and limitations, plus measurements (calibration), findings
    (inspection) or open findings (security review)."""
    out: dict[str, Any] = {
        "validUntil": iso(valid),
        "intervalDays": t.interval_days,
        "limitations": "Use only below 80% of range" if state == "conditionally-ready" else "",
    }
    if kind == "calibration" and t.spec_kind in CAL_UNITS:
        unit, tolerance, rule = CAL_UNITS[t.spec_kind]
        out["tolerance"] = rule
        out["measurements"] = _measurements(rng, unit, tolerance, full_scale, state)
    elif kind == "inspection":
        out["checklist"] = f"{t.code}-INSP rev {rng.randint(2, 6)}"
        out["findings"] = (
            "Structural crack found, removed from service"
            if state == "not-ready"
            else rng.choice(cat.INSPECTION_FINDINGS)
        )
    else:
        out["framework"] = "ISO/IEC 27001:2022 Annex A"
        out["openFindings"] = rng.randint(3, 9) if state == "not-ready" else rng.randint(0, 2)
    return out


def _measurements(
    rng: random.Random, unit: str, tolerance: float, full_scale: float, state: str
) -> list[dict[str, Any]]:
    points = []
    for share in (0.2, 0.6, 1.0):
        nominal = round(full_scale * share, 3)
        error = rng.uniform(-0.8, 0.8) * tolerance / 100
        if state == "not-ready" and share == 1.0:
            error = rng.choice((-1, 1)) * rng.uniform(1.2, 2.5) * tolerance / 100
        points.append(
            {
                "nominal": nominal,
                "asFound": round(nominal * (1 + error), 4),
                "unit": unit,
                "pass": state != "not-ready" or share != 1.0,
            }
        )
    return points


def evidence(rng: random.Random, kind: str, by: str, performed: datetime) -> dict[str, Any]:
    """Certificate or report number, who issued it, and the attached file's size and SHA-256."""
    prefix = {"calibration": "CAL", "inspection": "INSP"}.get(kind, "SEC")
    number = f"{prefix}-{performed.year}-{rng.randrange(10**6):06d}"
    lab = (
        rng.choice(cat.CALIBRATION_LABS[1:])
        if by == "external-calibration"
        else (cat.CALIBRATION_LABS[0] if kind == "calibration" else _TITLES[by])
    )
    return {
        "certificateNumber": number,
        "lab": lab,
        "files": [
            {
                "name": f"{number}.pdf",
                "size": rng.randint(90_000, 600_000),
                "sha256": f"{rng.getrandbits(256):064x}",
            }
        ],
    }
