<?php

namespace App\Jobs;

use Illuminate\Contracts\Queue\ShouldBeEncrypted;

/** A one-time code by SMS: the same job, encrypted with APP_KEY on the queue. */
class SendOtpSmsJob extends SendSmsJob implements ShouldBeEncrypted
{
    public $tries = 1;
    public $backoff = null;
}
