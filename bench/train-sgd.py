"""The scikit-learn side of `npm run bench -- train`: SGDClassifier(loss='log_loss') on svmlight files.

Usage: /usr/bin/python3 train-sgd.py <train.svm> <test.svm> <n_features> <max_iter> <probabilities.f64>

Writes P(label 1) for every test row as little-endian float64 and prints one JSON line last:
{"loadSeconds", "fitSeconds", "predictSeconds", "epochs"}. Only `fit` is timed as training; reading the svmlight
text is reported separately (our learners read a binary matrix instead). Peak RSS is measured by /usr/bin/time.
"""
import json
import sys
import time
import warnings

import numpy as np
from sklearn.datasets import load_svmlight_file
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDClassifier

train_file, test_file, n_features, max_iter, out_file = sys.argv[1:6]
n_features = int(n_features)
max_iter = int(max_iter)

start = time.perf_counter()
x_train, y_train = load_svmlight_file(train_file, n_features=n_features, zero_based=False)
x_test, _ = load_svmlight_file(test_file, n_features=n_features, zero_based=False)
load_seconds = time.perf_counter() - start

# tol=None runs exactly max_iter epochs; with one epoch sklearn warns that it did not converge, as intended.
model = SGDClassifier(loss="log_loss", max_iter=max_iter, tol=None, random_state=1)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    start = time.perf_counter()
    model.fit(x_train, y_train)
    fit_seconds = time.perf_counter() - start

start = time.perf_counter()
positive = list(model.classes_).index(1.0)
probabilities = model.predict_proba(x_test)[:, positive]
predict_seconds = time.perf_counter() - start
probabilities.astype("<f8").tofile(out_file)

print(
    json.dumps(
        {
            "loadSeconds": load_seconds,
            "fitSeconds": fit_seconds,
            "predictSeconds": predict_seconds,
            "epochs": int(model.n_iter_),
        }
    )
)
