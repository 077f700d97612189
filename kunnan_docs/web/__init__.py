"""The clerk's web desk (`kunnan-docs serve`): pages over the library, the watcher running beside it."""
