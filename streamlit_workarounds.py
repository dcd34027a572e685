"""The app's two changes to Streamlit's private internals, in one place, for the versions tested.

Both patch private code, so each is applied only on the Streamlit versions in
:data:`TESTED_VERSIONS`; ``tests/test_streamlit_workarounds.py`` fails loudly when an upgrade
moves out of them or removes what they rely on, so that someone looks again.

1. **No Keras clear-session after each run.** After every script run Streamlit's "problem
   modules" clean-up calls ``keras.backend.clear_session()``, which empties TensorFlow's kernel
   cache: the first model call of each rerun rebuilt its kernels, about 0.1 s more per
   interaction on a 2-core CPU. The app's models are built once and shared; there is no Keras
   state to clear. (Streamlit added the clean-up for streamlit/streamlit#4797.)
2. **A run cut short deletes no image files.** After each run Streamlit deletes the files of
   the images that the run did not show. A run stopped by a rerun (a slider moved) has not shown
   them all yet, while the browser still displays them and may fetch them again: broken images
   (streamlit/streamlit#4711, #5834). Streamlit already skips the clean-up for a run whose body
   never started; this treats a run that stopped early the same way. The next run that
   finishes still deletes what nobody shows.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import streamlit
from streamlit.runtime.scriptrunner import script_runner
from streamlit.runtime.scriptrunner.script_runner import ScriptRunner, ScriptRunnerEvent
from streamlit.runtime.scriptrunner_utils.script_run_context import ScriptRunContext

__all__ = ["TESTED_VERSIONS", "apply", "keep_files_of_interrupted_runs", "tested"]

#: Streamlit versions (major.minor) whose internals these workarounds were checked against.
TESTED_VERSIONS = ("1.67",)


def tested(version: str = streamlit.__version__) -> bool:
    """Whether ``version`` is one the workarounds were checked against."""
    return ".".join(version.split(".")[:2]) in TESTED_VERSIONS


def keep_files_of_interrupted_runs(finish: Callable[..., None]) -> Callable[..., None]:
    """Wrap ``ScriptRunner._on_script_finished`` so that a run that was cut short deletes no files."""

    @functools.wraps(finish)
    def finish_run(
        runner: ScriptRunner, ctx: ScriptRunContext, event: ScriptRunnerEvent, premature_stop: bool, *rest: object
    ) -> None:
        if premature_stop or event == ScriptRunnerEvent.SCRIPT_STOPPED_FOR_RERUN:
            ctx._has_script_started = False  # the flag Streamlit checks before its clean-up
        finish(runner, ctx, event, premature_stop, *rest)

    finish_run.keeps_files = True
    return finish_run


def apply() -> bool:
    """Apply both workarounds once (the app script reruns); return whether they apply to this version."""
    if not tested():
        return False
    script_runner._clean_problem_modules = lambda: None
    if not getattr(ScriptRunner._on_script_finished, "keeps_files", False):
        ScriptRunner._on_script_finished = keep_files_of_interrupted_runs(ScriptRunner._on_script_finished)
    return True
