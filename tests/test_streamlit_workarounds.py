"""The app's workarounds of Streamlit internals: they must fail loudly when Streamlit changes."""

import inspect
import threading
from types import SimpleNamespace

import streamlit
from streamlit.runtime.scriptrunner import script_runner
from streamlit.runtime.scriptrunner_utils.script_run_context import ScriptRunContext

import streamlit_workarounds


def test_the_installed_streamlit_is_one_the_workarounds_were_checked_against():
    """An upgrade lands here first: check both workarounds against the new version, then add it."""
    assert streamlit_workarounds.tested(), (
        f"Streamlit {streamlit.__version__} is not in streamlit_workarounds.TESTED_VERSIONS: "
        "check that both workarounds still hold (see the module), then add it"
    )


def test_what_the_workarounds_rely_on_is_still_there():
    assert callable(script_runner._clean_problem_modules)
    parameters = list(inspect.signature(script_runner.ScriptRunner._on_script_finished).parameters)
    assert parameters[:4] == ["self", "ctx", "event", "premature_stop"]
    source = inspect.getsource(inspect.unwrap(script_runner.ScriptRunner._on_script_finished))
    assert "has_script_started" in source  # the guard the second workaround sets
    assert "_has_script_started" in inspect.getsource(ScriptRunContext)


def test_an_untested_version_gets_no_workaround(monkeypatch):
    assert not streamlit_workarounds.tested("99.0.0") and streamlit_workarounds.tested("1.67.3")
    monkeypatch.setattr(streamlit_workarounds, "tested", lambda: False)
    cleanup = script_runner._clean_problem_modules
    assert streamlit_workarounds.apply() is False
    assert script_runner._clean_problem_modules is cleanup


def test_runs_cut_short_leave_the_image_files_for_the_next_full_run(monkeypatch):
    """A run stopped by a rerun must not delete images the browser still shows."""
    streamlit_workarounds.apply()  # as app.py does for the ScriptRunner that `streamlit run` uses
    removals = []
    managers = SimpleNamespace(
        media_file_mgr=SimpleNamespace(remove_orphaned_files=lambda: removals.append("media")),
        dataframe_source_mgr=SimpleNamespace(remove_orphaned_sources=lambda: None),
    )
    monkeypatch.setattr(script_runner.runtime, "exists", lambda: True)
    monkeypatch.setattr(script_runner.runtime, "get_instance", lambda: managers)
    runner = SimpleNamespace(
        _join_wake_lock=threading.Lock(),
        _session_state=SimpleNamespace(on_script_finished=lambda *arguments, **options: None),
        on_event=SimpleNamespace(send=lambda *arguments, **options: None),
    )
    context_type = type("Context", (), {"has_script_started": ScriptRunContext.has_script_started})
    events = script_runner.ScriptRunnerEvent
    for event, premature_stop, removed in [
        (events.SCRIPT_STOPPED_WITH_SUCCESS, False, ["media"]),  # a full run cleans up
        (events.SCRIPT_STOPPED_WITH_SUCCESS, True, []),  # stopped for a new run (fast reruns)
        (events.SCRIPT_STOPPED_FOR_RERUN, False, []),  # stopped by a rerun request
    ]:
        removals.clear()
        context = context_type()
        context._has_script_started = True
        context.shared = SimpleNamespace(widget_ids_this_run=SimpleNamespace(snapshot=set))
        script_runner.ScriptRunner._on_script_finished(runner, context, event, premature_stop, None)
        assert removals == removed, event
