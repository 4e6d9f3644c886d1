"""pySigma plugin entry: makes `sigma convert -t spark` use socpipe's Spark SQL backend."""

from rules.spark_sql import SparkBackend

backends = {"spark": SparkBackend}
