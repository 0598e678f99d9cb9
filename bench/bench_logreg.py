"""Benchmark: our Newton/IRLS fit of the patch classifier vs scikit-learn, in one run.

The course's patch problem (``patches.course_patch_problem``: 15 x 15 patches around the virtual
rodent's ``spine_mid`` keypoint, N >= 20,000 patches, P = 226 features with the bias) is fitted
with the same L2 objective, sum_n loss_n + (l2 / 2) ||w||^2, by

* ``lecturekit.patch_classifier.optim.fit_newton``                       (ours: Newton / IRLS, Cholesky solve)
* ``LogisticRegression(solver="lbfgs")``                (C = 1 / l2, fit_intercept=False)
* ``LogisticRegression(solver="newton-cholesky")``      (same)

It prints the relative difference of each optimum from ours and the time ratios (median of
repeats, BLAS limited to one thread so the numbers do not depend on the machine's load), and
writes ``bench/results/logreg.json``.  Goal: the same optimum (relative difference <= 1e-5) and
ours no slower than lbfgs (ratio ours / lbfgs <= 1).

Usage: ``python bench/bench_logreg.py [--repeats 5] [--threads 1]``
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from lecturekit.patch_classifier import logreg, optim, patches

RESULTS = Path(__file__).resolve().parent / "results" / "logreg.json"


def _time(fn, repeats: int):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads for every solver")
    parser.add_argument("--l2", type=float, default=1.0, help="L2 strength (sklearn C = 1 / l2)")
    args = parser.parse_args(argv)

    problem = patches.course_patch_problem("spine_mid", (15, 15), n_negatives=60)
    X, y, l2 = problem["X"], problem["y"], args.l2
    N, P = X.shape
    assert N >= 20_000 and P >= 225, (N, P)

    def ours():
        return optim.fit_newton(X, y, l2, tol=1e-10).w

    def sk(solver):
        def fit():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = LogisticRegression(C=1.0 / l2, fit_intercept=False, solver=solver, tol=1e-10, max_iter=10_000)
                model.fit(X, y)
            return model.coef_[0], int(np.max(model.n_iter_))
        return fit

    with threadpool_limits(limits=args.threads):
        t_ours, w_ours = _time(ours, args.repeats)
        t_lbfgs, (w_lbfgs, it_lbfgs) = _time(sk("lbfgs"), args.repeats)
        t_chol, (w_chol, it_chol) = _time(sk("newton-cholesky"), args.repeats)
        n_newton = optim.fit_newton(X, y, l2, tol=1e-10).n_iter

    def rel(w):
        return float(np.linalg.norm(w - w_ours) / np.linalg.norm(w_ours))

    f = {name: logreg.nll(w, X, y, l2) for name, w in (("ours", w_ours), ("lbfgs", w_lbfgs), ("newton-cholesky", w_chol))}
    result = {
        "benchmark": "logreg: Newton/IRLS vs sklearn LogisticRegression",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                    "python": platform.python_version(), "numpy": np.__version__, "sklearn": sklearn.__version__,
                    "blas_threads": args.threads},
        "problem": {"keypoint": "spine_mid", "patch_shape": [15, 15], "N": N, "P": P, "l2": l2, "C": 1.0 / l2},
        "repeats": args.repeats,
        "seconds_median": {"ours_newton": t_ours, "sklearn_lbfgs": t_lbfgs, "sklearn_newton_cholesky": t_chol},
        "iterations": {"ours_newton": n_newton, "sklearn_lbfgs": it_lbfgs, "sklearn_newton_cholesky": it_chol},
        "relative_difference_from_ours": {"sklearn_lbfgs": rel(w_lbfgs), "sklearn_newton_cholesky": rel(w_chol)},
        "nll": f,
        "time_ratio_ours_over": {"sklearn_lbfgs": t_ours / t_lbfgs, "sklearn_newton_cholesky": t_ours / t_chol},
    }
    print(f"patch problem: N = {N} patches, P = {P} features, l2 = {l2} (C = {1 / l2}), "
          f"{args.threads} BLAS thread(s), median of {args.repeats}")
    print(f"{'solver':28s} {'seconds':>9s} {'iters':>6s} {'rel. diff. from ours':>21s} {'NLL':>14s}")
    print(f"{'ours: Newton/IRLS':28s} {t_ours:9.3f} {n_newton:6d} {0.0:21.1e} {f['ours']:14.6f}")
    print(f"{'sklearn lbfgs':28s} {t_lbfgs:9.3f} {it_lbfgs:6d} {rel(w_lbfgs):21.1e} {f['lbfgs']:14.6f}")
    print(f"{'sklearn newton-cholesky':28s} {t_chol:9.3f} {it_chol:6d} {rel(w_chol):21.1e} {f['newton-cholesky']:14.6f}")
    print(f"time ratio ours / lbfgs           = {t_ours / t_lbfgs:.2f}  (goal <= 1)")
    print(f"time ratio ours / newton-cholesky = {t_ours / t_chol:.2f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}")
    return result


if __name__ == "__main__":
    main()
