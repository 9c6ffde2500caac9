"""Volatility forecasting (issue 6): EWMA, GARCH(1,1), GJR-GARCH and gradient boosting on HAR features, with
rolling-origin out-of-sample evaluation (QLIKE, MSE). Units: variances of daily log returns (decimal²); vols are
daily decimals unless a name says annualised (× √365)."""

from ccm.analysis.forecast.evaluation import EvaluationResult, qlike_test, rolling_evaluation
from ccm.analysis.forecast.ewma import EwmaForecaster
from ccm.analysis.forecast.features import DailySeries, har_features, intraday_realised_variance, realised_variance
from ccm.analysis.forecast.garch import GarchForecaster, garch_variance
from ccm.analysis.forecast.gbm import GbmForecaster
from ccm.analysis.forecast.losses import diebold_mariano, mse, qlike, qlike_losses
from ccm.analysis.forecast.models import BASELINE, MODEL_NAMES, make_forecaster
from ccm.analysis.forecast.volatility import DAYS_PER_YEAR, forecast_volatility

__all__ = ["BASELINE", "DAYS_PER_YEAR", "MODEL_NAMES", "DailySeries", "EvaluationResult", "EwmaForecaster",
           "GarchForecaster", "GbmForecaster", "diebold_mariano", "forecast_volatility", "garch_variance",
           "har_features", "intraday_realised_variance", "make_forecaster", "mse", "qlike", "qlike_losses",
           "qlike_test", "realised_variance", "rolling_evaluation"]
