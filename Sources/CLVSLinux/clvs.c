// Out-of-line helpers of CLVSLinux.
#include "CLVSLinux.h"
