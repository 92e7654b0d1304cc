"""Clustering: k-means on iris for k = 2..6, one child run per k under a sweep run; the sweep
records the k with the best silhouette score.

    python examples/clustering.py
"""

from __future__ import annotations

from sklearn.cluster import KMeans
from sklearn.datasets import load_iris
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.preprocessing import StandardScaler

import chachaml as ml

EXPERIMENT = "gallery-clustering"


def main() -> str:
    X, species = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    with ml.run(experiment=EXPERIMENT, name="kmeans-sweep") as sweep:
        scores = {}
        for k in range(2, 7):
            with ml.run(name=f"k={k}"):  # a child of the sweep
                model = KMeans(n_clusters=k, n_init=10, random_state=0).fit(X)
                scores[k] = silhouette_score(X, model.labels_)
                ml.log_param("n_clusters", k)
                ml.log_metrics(
                    {
                        "silhouette": scores[k],
                        "inertia": model.inertia_,
                        # iris has labels: how well do the clusters match the species?
                        "adjusted_rand": adjusted_rand_score(species, model.labels_),
                    }
                )
            # the sweep's own curve: silhouette by k
            ml.log_metric("silhouette_by_k", scores[k], step=k)
        best_k = max(scores, key=scores.__getitem__)
        ml.log_param("best_k", best_k)
        ml.log_metric("best_silhouette", scores[best_k])
    print(f"best k = {best_k} (silhouette {scores[best_k]:.3f})")
    return sweep.id


if __name__ == "__main__":
    main()
