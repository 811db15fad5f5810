"""Running rules: the durable-rules binding and the staged pipeline that builds a Decision."""
