#pragma once
#include <ember/nn/attention/attention.h>
#include <ember/nn/container.h>
#include <ember/nn/init.h>
#include <ember/nn/layers.h>
#include <ember/nn/gan.h>
#include <ember/nn/module.h>
#include <ember/nn/spectral_norm.h>
