import chachaml as ml


def test_a_run_records_params_and_latest_metrics(store: ml.Store) -> None:
    with ml.run(experiment="iris") as run:
        ml.log_param("C", 1.0)
        for step in range(3):
            ml.log_metric("loss", 1.0 / (step + 1))
    got = ml.get_run(run.id)
    assert got is not None
    assert got["status"] == "completed"
    assert got["params"] == {"C": 1.0}
    assert got["metrics"] == {"loss": 1.0 / 3}
