"""The readouts the generalisation benchmark compares (readout/generalisation.py) on data whose answer is
known (the benchmark itself runs on a tiny route decoder run in test_decoder_route.py)."""

import torch

from hypershape.readout.generalisation import corrected, knn, leave_one_out, pick, ridge, spread_error


def linear_data(n=40, d=10, latent=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    return x, x @ torch.randn(d, latent, generator=g)


def mean_readout(x, z):
    return lambda y: z.mean(0).expand(len(y), -1)


def test_ridge_reads_a_linear_map_on_objects_it_left_out_and_the_mean_does_not():
    x, z = linear_data()
    scale = z.std(0)
    alpha, errors = pick(ridge, (1e-3, 1.0, 1e4), x, z, scale)
    assert errors[alpha] < 0.01 * leave_one_out(mean_readout, x, z, scale)
    assert errors[1e4] > 10 * errors[alpha]  # too strong a prior reads little: leave-one-out sees it


def test_leave_one_out_never_reads_the_object_itself():
    x, z = linear_data(n=10)
    scale = z.std(0)
    assert torch.equal(knn(x, z, 1)(x), z)  # in sample, each object's nearest is itself
    assert leave_one_out(lambda a, b: knn(a, b, 1), x, z, scale) > 0.1
    twins = (torch.cat([x, x]), torch.cat([z, z]))  # with a copy of each object, its copy answers exactly
    assert leave_one_out(lambda a, b: knn(a, b, 1), *twins, scale) == 0.0


def test_two_codes_lie_half_a_spread_from_their_mean():
    codes = torch.tensor([[0.0, 2.0, -1.0], [4.0, 3.0, 1.0]])
    assert torch.allclose(spread_error(codes.mean(0), codes, codes.std(0)), torch.tensor([0.5, 0.5]))


def test_the_correction_reads_a_linear_step_and_a_strong_prior_leaves_the_mean_step():
    x, step = linear_data(d=4)
    z = x + step  # codes a linear step away from latents read some other way
    scale = z.std(0)
    alpha, errors = pick(corrected(ridge), (1e-3, 1.0, 1e4), x, z, scale)
    assert errors[alpha] < 0.01 * leave_one_out(lambda a, b: lambda y: y, x, z, scale)  # the latent as read
    assert torch.allclose(corrected(ridge)(x, z, 1e9)(x[:3]), x[:3] + step.mean(0), atol=1e-4)
    assert torch.equal(corrected(knn)(x, z, 1)(x), z)  # in sample, each latent's nearest step is its own
