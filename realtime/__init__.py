"""The live recognizer: capture, transport, inference and the label stream."""
