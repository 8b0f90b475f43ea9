# The environment of the student's JupyterLab, shared by scripts/lab.sh (`make lab`) and
# ./start (Binder). Source it with TAPELAB_REPO set to the repository root.
: "${TAPELAB_REPO:?set TAPELAB_REPO to the repository root before sourcing lab-env.sh}"
# The kernel spec of the environment ("python3", with tapelab) wins over one in the user's home.
export JUPYTER_PREFER_ENV_PATH=1
# nbgrader's Validate button and Assignment List read nbgrader_config.py from the Jupyter
# config path: autograder/ holds the course's. scripts/student-lab/ turns off the
# instructor-only parts of nbgrader (formgrader, course list, create assignment).
case ":${JUPYTER_CONFIG_PATH:-}:" in
  *":$TAPELAB_REPO/autograder:"*) ;;
  *) export JUPYTER_CONFIG_PATH=$TAPELAB_REPO/autograder:$TAPELAB_REPO/scripts/student-lab${JUPYTER_CONFIG_PATH:+:$JUPYTER_CONFIG_PATH} ;;
esac
# TensorFlow quiet in the notebooks, as in the kernel spec `make setup` installs: the variables
# of tapelab.environment.TENSORFLOW, where they are not set already.
eval "$(python -m tapelab.environment --shell)"
