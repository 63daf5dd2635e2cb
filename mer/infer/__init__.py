"""Use a trained model: load its checkpoint, predict a new clip (spotting the apex), export it."""
