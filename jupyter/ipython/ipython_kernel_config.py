# Loaded by every IPython kernel of the course's virtual environment (installed into
# $VENV/etc/ipython by `make lab`): after a kernel restart, a self-check cell run on its own
# shows one line ("run the cells above first ...") instead of a NameError traceback.
c = get_config()  # noqa: F821 - provided by IPython when it loads this file
c.InteractiveShellApp.extensions = ["lecturekit.checks"]
