<?php

namespace App\Jobs;

use DateTimeImmutable;
use DateTimeInterface;
use Illuminate\Bus\Queueable;
use Illuminate\Contracts\Queue\ShouldQueue;
use Illuminate\Foundation\Bus\Dispatchable;
use Illuminate\Queue\InteractsWithQueue;
use Illuminate\Queue\SerializesModels;

/** The HR app's image job: ProcessImageJob::dispatch($imagePath, ['disk' => 'public',
 * 'width' => 1200, 'height' => 1200, 'quality' => 85, 'thumbnail' => [...]]).
 * Private typed properties; retryUntil() instead of a fixed backoff. */
class ProcessImageJob implements ShouldQueue
{
    use Dispatchable, InteractsWithQueue, Queueable, SerializesModels;

    public $tries = 3;
    public $maxExceptions = 2;
    public $failOnTimeout = true;
    public $timeout = 120;

    private string $imagePath;
    private array $options;

    public function __construct(string $imagePath, array $options = [])
    {
        $this->imagePath = $imagePath;
        $this->options = $options;
    }

    public function retryUntil(): DateTimeInterface
    {
        return new DateTimeImmutable('+1 hour');
    }

    public function handle(): void
    {
    }
}
