"""The one-way CMMS import (SPEC section 6): profiles, runs, their plans, the nightly schedule.

Reading and mapping a file is pure code shared with the drift check (``registra_client``);
this package plans the diff against the register, applies it through the asset services and
keeps the run history."""
