"""Writes of the CMMS import: profiles and runs. Each service checks the policy table first,
runs in one transaction and records its audit events itself."""

from registra.imports.services.profiles import (
    import_profile_create,
    import_profile_delete,
    import_profile_update,
)
from registra.imports.services.queued import (
    apply_requested,
    import_run_queue,
    import_run_request_apply,
    plan_uploaded,
    requeue_waiting,
)
from registra.imports.services.retention import PurgedPlan, import_plans_purge
from registra.imports.services.runs import (
    ImportFailed,
    SourceFile,
    import_run_apply,
    import_run_discard,
    import_run_start,
)
from registra.imports.services.unreachable import import_run_unreachable

__all__ = [
    "ImportFailed",
    "PurgedPlan",
    "SourceFile",
    "apply_requested",
    "import_plans_purge",
    "import_profile_create",
    "import_profile_delete",
    "import_profile_update",
    "import_run_apply",
    "import_run_discard",
    "import_run_queue",
    "import_run_request_apply",
    "import_run_start",
    "import_run_unreachable",
    "plan_uploaded",
    "requeue_waiting",
]
