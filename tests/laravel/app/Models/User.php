<?php

namespace App\Models;

use Illuminate\Database\Eloquent\Model;

/** An Eloquent model as a job may carry it: SerializesModels writes a ModelIdentifier. */
class User extends Model
{
    protected $guarded = [];
}
