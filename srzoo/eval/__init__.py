"""Evaluation: the field's metrics, `srzoo bench`, its tables and figures."""
