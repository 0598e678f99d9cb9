"""The Jupyter settings shipped in jupyter/: student view by default, instructor parts on demand."""

import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = ROOT / "jupyter"
INSTRUCTOR_PLUGINS = {"@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
                      "@jupyter/nbgrader:course-list", "@jupyter/nbgrader:menu"}


def load(path: str) -> dict:
    return json.loads((SETTINGS / path).read_text())


def test_students_do_not_get_the_instructor_parts_but_keep_validate():
    page = load("student/labconfig/page_config.json")
    assert {k for k, v in page["disabledExtensions"].items() if v} == INSTRUCTOR_PLUGINS
    server = load("student/jupyter_server_config.d/zz-lecturekit-student.json")["ServerApp"]["jpserver_extensions"]
    assert server == {"nbgrader.server_extensions.formgrader": False, "nbgrader.server_extensions.course_list": False,
                      "nbgrader.server_extensions.assignment_list": True,
                      "nbgrader.server_extensions.validate_assignment": True}


def test_the_instructor_config_switches_them_back_on():
    page = load("instructor/labconfig/page_config.json")
    assert set(page["disabledExtensions"]) == INSTRUCTOR_PLUGINS and not any(page["disabledExtensions"].values())
    server = load("instructor/jupyter_server_config.d/zz-lecturekit-instructor.json")["ServerApp"]
    server = server["jpserver_extensions"]
    assert all(server.values()) and len(server) == 4


def test_no_news_popup_and_the_kernel_loads_the_self_check_extension():
    notification = load("lab-settings/overrides.json")["@jupyterlab/apputils-extension:notification"]
    assert notification == {"fetchNews": "false", "checkForUpdates": False}
    assert 'extensions = ["lecturekit.checks"]' in (SETTINGS / "ipython/ipython_kernel_config.py").read_text()


def test_make_installs_the_settings_into_the_environment_never_the_home_folder(tmp_path):
    venv = tmp_path / "venv"
    command = ["make", "-n", "-s", "-C", str(tmp_path), "-f", str(ROOT / "Makefile"), f"VENV={venv}",
               "-o", f"{venv}/.installed", "jupyter-settings"]
    dry = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    targets = [line.split()[-1] for line in dry.splitlines() if line.startswith("cp ")]
    assert len(targets) == 4 and all(t.startswith(str(venv)) for t in targets), dry
    assert f"{venv}/etc/ipython/ipython_kernel_config.py" in targets
    assert "~" not in dry and str(Path.home()) + "/." not in dry
