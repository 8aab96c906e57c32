#pragma once
#include "optim/clip.h"
#include "optim/ema.h"
#include "optim/lr_scheduler.h"
#include "optim/optimizer.h"
#include "optim/optimizers.h"
