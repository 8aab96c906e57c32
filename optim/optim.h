#pragma once
#include <ember/optim/clip.h>
#include <ember/optim/ema.h>
#include <ember/optim/grad_scaler.h>
#include <ember/optim/lr_scheduler.h>
#include <ember/optim/master_weights.h>
#include <ember/optim/optimizer.h>
#include <ember/optim/optimizers.h>
