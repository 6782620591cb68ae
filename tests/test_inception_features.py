"""The --inception-weights feature path, with randomly initialised InceptionV3 weights saved
locally (nothing is downloaded): it must reproduce Paddle's own forward pass."""
import numpy as np
import paddle

from paddle_gan.evaluation.features import IMAGENET_MEAN, IMAGENET_STD, inception_extractor


def test_inception_features_match_the_model_forward(tmp_path):
    from paddle.vision.models import inception_v3

    paddle.seed(0)
    model = inception_v3(pretrained=False)
    path = tmp_path / "inception.npz"
    np.savez(path, **{k: v.numpy() for k, v in model.state_dict().items()})
    images = np.random.default_rng(0).random((3, 1, 32, 32)).astype(np.float32)
    extractor = inception_extractor(str(path), batch_size=2)
    feats, probs = extractor.extract(images)
    assert extractor.name == "inception_v3"
    assert feats.shape == (3, 2048) and probs.shape == (3, 1000)

    model.eval()
    x = paddle.to_tensor(np.repeat(images, 3, axis=1))
    x = paddle.nn.functional.interpolate(x, size=[299, 299], mode="bilinear", align_corners=False)
    x = (x - paddle.to_tensor(IMAGENET_MEAN.reshape(1, 3, 1, 1))) / paddle.to_tensor(
        IMAGENET_STD.reshape(1, 3, 1, 1))
    with paddle.no_grad():
        logits = model(x).numpy()
    expected = np.exp(logits - logits.max(1, keepdims=True))
    np.testing.assert_allclose(probs, expected / expected.sum(1, keepdims=True), atol=1e-6)
