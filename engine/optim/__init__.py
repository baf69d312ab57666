"""engine.optim, as torch.optim: SGD, Adam, AdamW, RMSprop, Adagrad and lr_scheduler."""
