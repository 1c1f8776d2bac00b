"""The fixed catalogue behind the demo register (SPEC section 1's reference scenario): an
aviation maintenance organization, its crew, its responsibilities and the equipment it keeps.

Pure data. ``demo.plan`` draws from it with a seeded random generator.
"""

from __future__ import annotations

from dataclasses import dataclass

# Which assessments each asset kind needs to be ready (the organization's setting).
READINESS_REQUIREMENTS: dict[str, list[str]] = {
    "calibrated-tool": ["calibration"],
    "ground-support-equipment": ["inspection"],
    "lifting-equipment": ["inspection"],
    "vehicle": ["inspection"],
    "it-system": ["security-review"],
    "cloud-service": ["security-review"],
}

# The organization's configured classification levels, copied into each classification snapshot.
CLASSIFICATION_LEVELS: dict[str, dict[str, object]] = {
    "critical": {"label": "Flight-safety critical", "rank": 4, "severity": "critical"},
    "high": {"label": "Airworthiness relevant", "rank": 3, "severity": "high"},
    "moderate": {"label": "Operationally important", "rank": 2, "severity": "moderate"},
    "low": {"label": "General", "rank": 1, "severity": "low"},
}


@dataclass(frozen=True)
class Responsibility:
    """A responsibility assignment the demo creates; ``holder`` is a crew title or None."""

    key: str
    title: str
    holder: str | None
    description: str = ""


TOOLBOXES = "ABCDEFGH"

RESPONSIBILITIES: tuple[Responsibility, ...] = (
    *(
        Responsibility(
            f"toolbox-{box.lower()}",
            f"Custodian of toolbox {box}",
            f"Lead technician {box}",
            f"Keeps toolbox {box}: issues and receives its calibrated tools at shift change.",
        )
        for box in TOOLBOXES
    ),
    Responsibility(
        "calibration-lab",
        "Calibration lab",
        "Tooling and calibration coordinator",
        "In-house calibration of torque, pressure and electrical test equipment.",
    ),
    Responsibility(
        "external-calibration",
        "External calibration provider",
        None,
        "Accredited external laboratory for equipment the in-house lab cannot calibrate.",
    ),
    Responsibility(
        "gse-workshop",
        "Ground support equipment workshop",
        "GSE workshop lead",
        "Periodic inspection and repair of ground support equipment.",
    ),
    Responsibility(
        "lifting-inspection",
        "Lifting equipment inspector",
        "GSE workshop lead",
        "Thorough examination of jacks, hoists and slings.",
    ),
    Responsibility(
        "airside-fleet",
        "Airside vehicle fleet",
        "Fleet coordinator",
        "Airside vehicles, their drivers and roadworthiness inspections.",
    ),
    Responsibility(
        "it-service-owner",
        "IT service owner",
        "IT administrator",
        "Hangar IT devices, servers and cloud services.",
    ),
    Responsibility(
        "information-security",
        "Information security review",
        "IT administrator",
        "Security reviews of IT systems and cloud services.",
    ),
    Responsibility(
        "quality-manager",
        "Quality manager",
        "Head of quality",
        "Accountable for the tool and equipment control procedure (Part-145).",
    ),
    Responsibility(
        "stores",
        "Stores controller",
        "Stores controller",
        "Receives returned equipment and quarantines unserviceable items.",
    ),
)

# Office staff: (title, role). Technicians are generated beside them.
OFFICE: tuple[tuple[str, str], ...] = (
    ("Head of quality", "admin"),
    ("IT administrator", "admin"),
    ("Tooling and calibration coordinator", "editor"),
    ("Stores controller", "editor"),
    ("GSE workshop lead", "editor"),
    ("Fleet coordinator", "editor"),
    ("Compliance officer", "editor"),
    ("Maintenance planning engineer", "editor"),
    ("Internal auditor", "auditor"),
    ("Authority liaison auditor", "auditor"),
    ("Maintenance planner", "viewer"),
    ("Finance controller", "viewer"),
)
TECHNICIANS = 36  # the first eight lead a toolbox each

# Whitespace-separated words read better than 80 quoted names.
FIRST_NAMES = (  # noqa: SIM905
    "Anna Ben Carla David Elena Felix Greta Hannah Ismail Jana Jonas Karin Lars Lea Luca "
    "Maja Marco Nadia Nils Olga Paul Petra Rafael Sara Simon Sofia Tim Tomasz Ursula Vera "
    "Viktor Wiebke Yusuf Zoe Aylin Bernd Chiara Emil Finn Ines Jakob Lina Milan Noah Rosa"
).split()
LAST_NAMES = (  # noqa: SIM905
    "Becker Braun Costa Demir Engel Fischer Frank Graf Hahn Hoffmann Jansen Keller Klein "
    "Koch Kowalski Krause Lang Lehmann Meyer Moreau Novak Peters Richter Rossi Schmidt "
    "Schneider Schulz Vogel Wagner Weber Wolf Yilmaz Zimmermann Nowak Berger Lorenz"
).split()


@dataclass(frozen=True)
class EquipmentType:
    """One kind of equipment: what it is, who makes it, how it is checked and kept."""

    asset_kind: str
    code: str  # asset key prefix
    label: str
    weight: int  # relative frequency in the register
    makes: tuple[tuple[str, str], ...]  # (manufacturer, model)
    interval_days: int  # assessment interval of the kind's required assessment
    custody: bool  # handed to people (custody history) or kept in place
    classification: str  # key of CLASSIFICATION_LEVELS
    spec_kind: str  # which specifications generator (see demo.plan)


def _t(*args: object) -> EquipmentType:
    return EquipmentType(*args)  # type: ignore[arg-type]


# fmt: off
EQUIPMENT: tuple[EquipmentType, ...] = (
    # calibrated tools
    _t("calibrated-tool", "TW", "Torque wrench", 200,
       (("Norbar", "TTi 20"), ("Norbar", "TTi 60"), ("Norbar", "Professional 100"),
        ("Snap-on", "QD2R200"), ("Snap-on", "TQFR250E"), ("Stahlwille", "MANOSKOP 730/10"),
        ("Stahlwille", "MANOSKOP 730/40"), ("CDI", "2503MFRMH")),
       365, True, "critical", "torque"),
    _t("calibrated-tool", "TS", "Torque screwdriver", 40,
       (("Wera", "7440"), ("Wera", "7441"), ("Tohnichi", "RTD30CN"), ("Norbar", "TTs 1.2")),
       365, True, "critical", "torque"),
    _t("calibrated-tool", "PG", "Pressure gauge", 60,
       (("WIKA", "CPG1500"), ("WIKA", "232.50"), ("Ashcroft", "2089"), ("Crystal", "XP2i")),
       180, True, "high", "pressure"),
    _t("calibrated-tool", "TPG", "Tyre pressure gauge", 30,
       (("Tronair", "12-8201"), ("Dynamic Air", "DA-200"), ("Tronair", "12-7939")),
       180, True, "critical", "pressure"),
    _t("calibrated-tool", "DMM", "Digital multimeter", 60,
       (("Fluke", "87V"), ("Fluke", "179"), ("Fluke", "289"), ("Keysight", "U1252B")),
       365, True, "high", "electrical"),
    _t("calibrated-tool", "IRT", "Insulation resistance tester", 15,
       (("Megger", "MIT420/2"), ("Fluke", "1587 FC")),
       365, True, "high", "electrical"),
    _t("calibrated-tool", "CRT", "Crimp tool", 25,
       (("Daniels", "AF8"), ("Daniels", "HX4"), ("Astro Tool", "615708")),
       365, True, "high", "crimp"),
    _t("calibrated-tool", "MIC", "Outside micrometer", 15,
       (("Mitutoyo", "293-340-30"), ("Mahr", "40 EWR")),
       365, True, "high", "dimensional"),
    _t("calibrated-tool", "VC", "Digital caliper", 15,
       (("Mitutoyo", "500-196-30"), ("Mahr", "16 EWRi")),
       365, True, "moderate", "dimensional"),
    _t("calibrated-tool", "TEN", "Cable tensiometer", 10,
       (("Pacific Scientific", "T5-2001-101-00"), ("Wagner", "CT-200")),
       365, True, "critical", "tension"),
    _t("calibrated-tool", "PST", "Pitot-static test set", 8,
       (("Barfield", "DPS1000"), ("Laversab", "6300")),
       365, True, "critical", "pressure"),
    _t("calibrated-tool", "ATS", "Avionics ramp test set", 6,
       (("Viavi", "IFR 6000"), ("Viavi", "IFR 4000")),
       365, True, "high", "electrical"),
    # ground support equipment
    _t("ground-support-equipment", "GPU", "Ground power unit", 25,
       (("TLD", "GPU-428"), ("ITW GSE", "7400 90 kVA"), ("Hobart", "JetEx 5D")),
       180, False, "moderate", "power"),
    _t("ground-support-equipment", "HPU", "Hydraulic ground power unit", 15,
       (("Tronair", "5F04"), ("Tronair", "5H30")),
       180, True, "moderate", "hydraulic"),
    _t("ground-support-equipment", "N2C", "Nitrogen servicing cart", 15,
       (("Tronair", "11-6109"), ("Tronair", "11-6110")),
       180, True, "high", "pressure"),
    _t("ground-support-equipment", "TB", "Tow bar", 20,
       (("Tronair", "01-0138"), ("Tronair", "02-2000"), ("JMS", "TBL-320")),
       180, True, "moderate", "towing"),
    _t("ground-support-equipment", "TUG", "Towbarless tug", 8,
       (("Mototok", "Spacer 8600"), ("Lektro", "AP8850"), ("TLD", "TMX-150")),
       180, True, "moderate", "towing"),
    _t("ground-support-equipment", "MST", "Maintenance platform", 20,
       (("Tronair", "03-4104"), ("Aero Specialties", "SP-12")),
       365, False, "moderate", "platform"),
    # lifting equipment
    _t("lifting-equipment", "JK", "Tripod jack", 20,
       (("Tronair", "02-7813"), ("Malabar", "Model 3 25T"), ("Tronair", "02-7815")),
       180, False, "high", "lifting"),
    _t("lifting-equipment", "AJ", "Axle jack", 20,
       (("Tronair", "02-1026"), ("Malabar", "Model 340")),
       180, True, "high", "lifting"),
    _t("lifting-equipment", "HST", "Chain hoist", 10,
       (("Columbus McKinnon", "Lodestar F"), ("Yale", "CPV 5-8")),
       365, False, "high", "lifting"),
    _t("lifting-equipment", "SLG", "Engine sling", 10,
       (("AGSE", "CFM56-7B sling"), ("AGSE", "LEAP-1A sling"), ("Tronair", "V2500 sling")),
       365, False, "critical", "lifting"),
    # vehicles
    _t("vehicle", "VAN", "Airside service van", 20,
       (("Ford", "Transit Custom"), ("Volkswagen", "Crafter"), ("Mercedes-Benz", "Sprinter")),
       365, True, "low", "vehicle"),
    _t("vehicle", "PU", "Airside pickup", 10,
       (("Toyota", "Hilux"), ("Ford", "Ranger")),
       365, True, "low", "vehicle"),
    _t("vehicle", "EC", "Electric utility cart", 15,
       (("Club Car", "Carryall 500"), ("Goupil", "G4")),
       365, True, "low", "vehicle"),
    _t("vehicle", "FL", "Forklift", 8,
       (("Linde", "E20"), ("Jungheinrich", "EFG 220")),
       365, True, "moderate", "vehicle"),
    # IT systems
    _t("it-system", "TAB", "Rugged maintenance tablet", 40,
       (("Panasonic", "Toughbook G2"), ("Getac", "UX10"), ("Dell", "Latitude 7230 Rugged")),
       365, True, "moderate", "device"),
    _t("it-system", "LAP", "Diagnostic laptop", 20,
       (("Dell", "Latitude 5430 Rugged"), ("Panasonic", "Toughbook 40")),
       365, True, "moderate", "device"),
    _t("it-system", "PRN", "Label printer", 6,
       (("Zebra", "ZT411"), ("Brady", "i7100")),
       365, False, "low", "device"),
    _t("it-system", "SRV", "Maintenance data server", 3,
       (("Dell", "PowerEdge R750"), ("HPE", "ProLiant DL380 Gen11")),
       365, False, "high", "server"),
    _t("it-system", "NSW", "Hangar network switch", 3,
       (("Cisco", "Catalyst 9300"), ("HPE Aruba", "6300M")),
       365, False, "moderate", "server"),
    # cloud services
    _t("cloud-service", "SVC", "Cloud service", 3,
       (("Swiss AviationSoftware", "AMOS (SaaS)"), ("Microsoft", "SharePoint Online"),
        ("Boeing", "Toolbox Remote"), ("Airbus", "AirnavX"), ("Traxxall", "Traxxall")),
       365, False, "high", "cloud"),
)
# fmt: on

LOCATIONS: dict[str, tuple[str, ...]] = {
    "calibrated-tool": (
        "Hangar 1, bay 2",
        "Hangar 1, bay 3",
        "Hangar 2, bay 1",
        "Hangar 2, bay 4",
        "Line station FRA",
        "Line station MUC",
        "Avionics shop",
        "Engine shop",
        "Component workshop",
        "Tool crib A",
    ),
    "ground-support-equipment": ("Apron west", "Apron east", "GSE workshop", "Hangar 2, bay 4"),
    "lifting-equipment": ("Hangar 1, bay 2", "Hangar 2, bay 1", "Engine shop", "Stores"),
    "vehicle": ("Vehicle yard", "Apron west", "Line station FRA"),
    "it-system": ("Hangar 1 office", "Avionics shop", "Server room", "Line station MUC"),
    "cloud-service": ("EU-Central (Frankfurt)", "EU-West (Dublin)"),
}

CONDITION_NOTES = (
    "Serviceable",
    "Serviceable",
    "Serviceable",
    "Minor cosmetic wear on case",
    "Case latch replaced",
    "Battery replaced at handoff",
    "Protective caps missing, reported to stores",
    "Label re-applied",
)
DISPOSALS = (
    "scrapped: beyond economical repair",
    "scrapped: failed calibration, not adjustable",
    "sold to an approved reseller",
    "returned to lessor at end of lease",
    "replaced under the fleet renewal programme",
    "lost on line station, loss report filed",
)
CALIBRATION_LABS = (
    "Skyline calibration lab (in-house)",
    "Trescal GmbH, Frankfurt (DAkkS D-K-15070-01-00)",
    "WIKA calibration service, Klingenberg",
)
INSPECTION_FINDINGS = (
    "No findings",
    "No findings",
    "No findings",
    "Hydraulic hose chafing, hose replaced",
    "Placard faded, re-placarded",
    "Tyre wear within limits, monitor",
    "Load test passed at 125% of working load",
)
