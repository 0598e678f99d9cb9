"""lecturekit: the helper library of the course *Markerless Pose Tracking*.

One package per lecture part (Linderman, STATS 320), plus what they share:

* ``geometry`` (the camera model), ``metrics`` (MPE, RMSE, PCK, Procrustes), ``checks``
  (students' self-checks), ``plotting`` (the course style), ``interactive`` (the widget
  pattern), ``datasets`` (the course data, built and cached);
* ``patch_classifier`` (lectures 1-2), ``cnn`` (lecture 3), ``triangulation`` (lecture 4),
  ``gimbal`` (lecture 5), ``synth`` (the virtual rodent), ``formats`` (other tools' files);
* ``course``: the instructor machinery (release, grading, export, the CLI).

Importing ``lecturekit`` imports nothing else and changes nothing.
"""

__version__ = "0.1.0"
