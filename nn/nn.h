#pragma once
#include "nn/container.h"
#include "nn/init.h"
#include "nn/layers.h"
#include "nn/gan.h"
#include "nn/module.h"
#include "nn/spectral_norm.h"
